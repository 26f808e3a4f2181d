"""The names of the methods and rows the peers benchmark scores (:mod:`matting.evaluation.peers`), as its
JSON, its tables and the results pages (:mod:`matting.evaluation.results`) spell them."""

OURS = "coarse stage (ours)"
OURS_ALPHA = "whole pipeline (ours): its alpha"
MEDIAPIPE = "MediaPipe Selfie Segmentation"
MASK_SETS = ("portraits", "people")
BAND = 10  # px each side of a mask's edge: the closed-form trimap's unknown band, and the scored band
# The rows of the alpha table, in order: the refinement alone (true mask), then from our coarse mask.
TRUE_MASK = "true mask (alpha > 0.5) itself, as the alpha"
TRUE_REFINED = "true mask -> refinement (ours)"
TRUE_CF = "true mask -> closed-form matting"
COARSE_REFINED = "our coarse mask -> refinement (ours): the whole pipeline"
COARSE_CF = "our coarse mask -> closed-form matting"
ALPHA_ROWS = (TRUE_MASK, TRUE_REFINED, TRUE_CF, COARSE_REFINED, COARSE_CF)
