"""Revision pass: a bidirectional GRU rewrites whole windows of generated frames, seeing past and future at once.

Hypothesis: generation is strictly one pass, left to right, so a click at a
seam or a frame that drifted off is never revisited (the 2016 author wanted
"something that could 'revise' its predictions -- maybe using a bidirectional
RNN" instead of averaging overlapped predictions). A second network trained to
map degraded windows (the generator's own free-running rollouts from true
prefixes, and real audio with noise and clicks) to the real audio they stand
for should pull samples toward the data: expect the seam ratio to fall toward
the data's and the distribution metrics of `python -m advaudio.compare` to
move toward the real row. It can also smooth: a pass trained with
reconstruction terms regresses to the mean of the possible continuations, so
expect quieter, duller texture (lower flatness, loudness below the data's)
where the rollout has drifted from anything the real continuation could
match. Measured over the flagship's 3 seeds (README "Ideas from 2016"): less
hiss (flatness 5.8x against 8.5x the data's), FD-inf nearer the data in every
seed, but frame repetition up in every seed and seams worse in two: it smooths
toward a loop; experiments/revise_adversarial.py does better.

Over a finished run (its data, model and best generator; this folder then
holds the generator copy, the revision pass and revised samples):
Run: python -m advaudio.run experiments/revise.py --set revise.from_run=runs/gan_denoise/<stamp>
Generator (the MSE baseline) and revision pass in one run:
Run: python -m advaudio.run experiments/revise.py
Unrevised samples of the same folder for comparison:
python -m advaudio.generate RUN_DIR --set generate.revision=none --out RUN_DIR/samples-unrevised
"""
from advaudio.config import Experiment, Generate, Revise

REVISION_PARAMS = {"units": 128, "layers": 1}  # each direction of the bidirectional GRU
# Reconstruction on the frames and MR-STFT on the stitched window (the spectral terms keep it from only smoothing).
LOSS_WEIGHTS = {"rec/mse": 1.0, "spec/sc": 1.0, "spec/logmag": 1.0}


def get_config() -> Experiment:
    return Experiment(
        name="revise",
        generate=Generate(revision="bidirectional", revision_params=REVISION_PARAMS),
        revise=Revise(loss_weights=LOSS_WEIGHTS),
    )
