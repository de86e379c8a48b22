# EMOd: its own 9 emotion categories, whose names and order are not public.
# Set the real names here (and in datasets/emod.py) once you know them.
emoreg_affective = 'emod'
emotion_classes = tuple(f'emod_{i}' for i in range(9))
