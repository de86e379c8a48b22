# The affective set a run's emotional encoder learned from: EmoSet's 8
# emotions in the canonical order (the emotion head's K outputs).
emoreg_affective = 'emoset'
emotion_classes = ('amusement', 'awe', 'contentment', 'excitement', 'anger',
                   'disgust', 'fear', 'sadness')
