# The affective set a run's emotional encoder learned from (the results
# table's label of the run): EmoSet's 8 emotions in the canonical order. Stage
# 2 takes its vocabulary from the stage-1 checkpoint's record; this one is
# used, with a warning, for a checkpoint that records none.
emoreg_affective = 'emoset'
emotion_classes = ('amusement', 'awe', 'contentment', 'excitement', 'anger',
                   'disgust', 'fear', 'sadness')
