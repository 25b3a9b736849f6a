"""Spectral input encoder: the recurrent stack reads each frame's STFT "image" through a small conv net.

Hypothesis: the 2016 author's idea ("do the Fourier [transform], and plot each
frame as an 'image' using the phase as one axis and the amplitude as the other
..., pass these images through a convnet, and use that as the inputs to the
RNN at each timestep"). The plain FrameGRU must find pitch and timbre in 4000
raw samples with one linear projection; log-magnitudes expose them directly,
and phase as cos/sin keeps where each partial is in its cycle, which the
waveform head needs to continue it without a seam. Expect a lower validation
MSE and pitch/spectral metrics closer to the data than the MSE baseline at the
same budget, if the conv features keep enough of the phase; expect no gain if
the 128 features are a bottleneck (the head still writes all 4000 samples from
the GRU state). The cost: the model is the MSE baseline's with the encoder in
front (benchmarks/encoders.py prints the training-step and generation cost
against the plain model), and generation cannot use the folded rollout. The
STFT (256-point, hop 128) covers samples 0..3967 of each 4000-sample frame:
the last 32 samples reach the GRU only through the next frame. Measured over
3 seeds against experiments/mse_baseline.py (README "Ideas from 2016"): nearer
the data on every distribution metric (KID 11.3 against 41.1), still muffled,
and twice the baseline's validation MSE (0.39-0.41 against 0.21): the features
are a bottleneck for the waveform, not for the spectrum.

Run: python -m advaudio.run experiments/stft_encoder.py
Smoke: python -m advaudio.run experiments/stft_encoder.py --smoke
"""
from advaudio.config import Experiment, Model

# 256-point STFT every 128 samples: 30 columns x 129 bins per 4000-sample frame (2 columns for --smoke's 400).
ENCODER_PARAMS = {"output_dim": 128, "fft_size": 256, "hop_length": 128, "win_length": 256, "channels": (8, 16)}


def get_config() -> Experiment:
    return Experiment(name="stft_encoder", model=Model(encoder="stft_conv", encoder_params=ENCODER_PARAMS))
