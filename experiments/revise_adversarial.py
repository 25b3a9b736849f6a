"""Revision pass with a discriminator: the bidirectional revision pass (experiments/revise.py) trained with the
denoising GAN's adversarial terms on top of its reconstruction and MR-STFT terms.

Hypothesis: a pass trained on reconstruction terms alone regresses to the mean
of the continuations a degraded window could stand for, so it can smooth
(quieter, duller texture) where the rollout has drifted. A discriminator that
learns to tell stitched runs of the real windows from the revised ones (and
from noise, as the flagship's D does) rewards revisions that sound like the
data rather than like its average: expect, against experiments/revise.py in
`python -m advaudio.compare`, a flatness and loudness nearer the data's for the
same seam-ratio repair. Watch d/win and d/acc_noise in reviser_log.csv. D uses
the flagship's narrowed MelGAN layout and switches on after a quarter of the
pass's updates. Generation uses the last epoch's pass (`revise.best_by="last"`):
the reconstruction validation loss rises once D is on (measured over the
flagship's seed 0: 1.68 after the D-off first epoch, 1.86-1.90 after), so
choosing by it would keep the pass D judged least. See README "Ideas from 2016"
for what it measured.

Over a finished run:
Run: python -m advaudio.run experiments/revise_adversarial.py --set revise.from_run=runs/gan_denoise/<stamp>
Generator (the MSE baseline) and revision pass in one run:
Run: python -m advaudio.run experiments/revise_adversarial.py
Smoke: python -m advaudio.run experiments/revise_adversarial.py --smoke
"""
from advaudio.config import Adversarial, Experiment, Generate, Objective, Revise

REVISION_PARAMS = {"units": 128, "layers": 1}  # each direction of the bidirectional GRU
# experiments/revise.py's terms plus the adversarial and feature-matching terms (the flagship's weights).
LOSS_WEIGHTS = {"rec/mse": 1.0, "spec/sc": 1.0, "spec/logmag": 1.0, "adv/gen": 1.0, "adv/feat": 2.0}
EPOCHS, STEPS_PER_EPOCH = 4, 200  # the revision pass's budget (config.Revise's defaults)
D_START_STEP = EPOCHS * STEPS_PER_EPOCH // 4  # reviser updates before D switches on


def get_config() -> Experiment:
    return Experiment(
        name="revise_adversarial",
        generate=Generate(revision="bidirectional", revision_params=REVISION_PARAMS),
        revise=Revise(loss_weights=LOSS_WEIGHTS, epochs=EPOCHS, steps_per_epoch=STEPS_PER_EPOCH, best_by="last"),
        objective=Objective(
            adversarial=Adversarial(
                d_start_step=D_START_STEP,
                # The flagship's narrowed MelGAN layout (experiments/gan_denoise.py explains the narrowing).
                discriminator_params={
                    "scales": 3,
                    "channels": 8,
                    "max_channels": 64,
                    "downsample_factors": (4, 4, 4),
                    "kernel_size": 21,
                    "groups": 1,
                },
            ),
        ),
    )
