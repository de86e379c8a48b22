# Emotion6: its own 7 classes in ground_truth.txt's order (neutral included;
# only anger, disgust, fear and sadness have canonical counterparts).
emoreg_affective = 'emotion6'
emotion_classes = ('anger', 'disgust', 'fear', 'joy', 'sadness', 'surprise',
                   'neutral')
