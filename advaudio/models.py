"""FrameGRU, the next-frame generator, and its one-frame step function.

Training calls the model on whole sequences (cuDNN-eligible recurrent layers);
generation advances it one frame at a time through `step` with explicit states.
"""
from __future__ import annotations

import keras
from keras import ops

CELLS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}


@keras.saving.register_keras_serializable(package="advaudio")
class FrameGRU(keras.Model):
    """Predicts the next frame of raw audio from the frames so far.

    Args:
        frame_length: samples per frame (the input and output width).
        units: units of each recurrent layer.
        layers: number of stacked recurrent layers.
        cell: "gru" (default) or "lstm".
        skip_connections: if True the input frame and every layer's output
            reach the Dense head (concatenated); else only the last layer's.
        gate_bias: initial bias of the GRU update gate / LSTM forget gate.
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        call: frames `[batch, steps, frame_length]` -> predictions
        `[batch, steps, frame_length]`, where prediction t estimates frame t+1.
        step: frame `[batch, frame_length]`, states (list, one `[batch, units]`
        per GRU layer, two per LSTM layer) -> (prediction `[batch,
        frame_length]`, new states).

    The defaults keep the cuDNN kernel eligible on a GPU (tanh/sigmoid
    activations, no recurrent dropout, `reset_after=True`, unroll False).

    Example:
        >>> model = FrameGRU(frame_length=400, units=64, layers=2)
        >>> y = model(keras.random.normal((2, 8, 400)))  # [2, 8, 400]

    Reference: the 2016 course project's 2-layer GRU next-frame model; SampleRNN
    (Mehri et al., 2017) for frame-level recurrent audio models.
    """

    def __init__(
        self,
        frame_length: int,
        units: int = 256,
        layers: int = 2,
        cell: str = "gru",
        skip_connections: bool = False,
        gate_bias: float = 0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {cell!r}")
        if layers < 1 or units < 1 or frame_length < 1:
            raise ValueError("model.layers, model.units and data.frame_length must be >= 1")
        self.frame_length = frame_length
        self.units = units
        self.num_layers = layers
        self.cell = cell
        self.skip_connections = skip_connections
        self.gate_bias = gate_bias
        self.recurrent_layers = [
            CELLS[cell](
                units,
                return_sequences=True,
                return_state=True,
                bias_initializer=_GateBias(cell, units, gate_bias),
                name=f"{cell}_{i}",
                **({"unit_forget_bias": False} if cell == "lstm" else {}),
            )
            for i in range(layers)
        ]
        self.head = keras.layers.Dense(frame_length, name="head")

    @property
    def states_per_layer(self) -> int:
        return 2 if self.cell == "lstm" else 1

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer in self.recurrent_layers:
            layer.build(shape)
            shape = shape[:-1] + (self.units,)
        width = self.units + (self.frame_length + self.units * (self.num_layers - 1) if self.skip_connections else 0)
        self.head.build(shape[:-1] + (width,))
        self.built = True

    def _run(self, frames, initial_states=None, training=None):
        """Runs the stack over a sequence; returns (predictions, final states)."""
        x = frames
        features = [frames] if self.skip_connections else []
        final_states = []
        k = self.states_per_layer
        for i, layer in enumerate(self.recurrent_layers):
            init = None if initial_states is None else list(initial_states[i * k : (i + 1) * k])
            out = layer(x, initial_state=init, training=training)
            x, states = out[0], list(out[1:])
            final_states.extend(states)
            if self.skip_connections:
                features.append(x)
        head_in = ops.concatenate(features, axis=-1) if self.skip_connections else x
        return self.head(head_in), final_states

    def call(self, frames, training=None):
        return self._run(frames, training=training)[0]

    def call_with_states(self, frames, initial_states=None, training=None):
        """Like `call` but also takes and returns the recurrent states.

        Args:
            frames: `[batch, steps, frame_length]`.
            initial_states: list of `[batch, units]` tensors or None (zeros).
        Returns:
            (predictions `[batch, steps, frame_length]`, list of final states).
        """
        return self._run(frames, initial_states=initial_states, training=training)

    def initial_states(self, batch_size):
        """Zero states: a list of `[batch, units]` tensors."""
        return [ops.zeros((batch_size, self.units)) for _ in range(self.num_layers * self.states_per_layer)]

    def step(self, frame, states):
        """Advances one frame with explicit states (used by generation).

        Args:
            frame: `[batch, frame_length]`, the latest (true or fed-back) frame.
            states: list of `[batch, units]` tensors from `initial_states`,
                `call_with_states` or a previous `step`.
        Returns:
            (prediction of the next frame `[batch, frame_length]`, new states).
        """
        x = frame
        features = [frame] if self.skip_connections else []
        new_states = []
        k = self.states_per_layer
        for i, layer in enumerate(self.recurrent_layers):
            layer_states = list(states[i * k : (i + 1) * k])
            x, out_states = layer.cell(x, layer_states if k > 1 else layer_states[0])
            out_states = out_states if isinstance(out_states, (list, tuple)) else [out_states]
            new_states.extend(out_states)
            if self.skip_connections:
                features.append(x)
        head_in = ops.concatenate(features, axis=-1) if self.skip_connections else x
        return self.head(head_in), new_states

    def get_config(self):
        config = super().get_config()
        config.update(
            frame_length=self.frame_length,
            units=self.units,
            layers=self.num_layers,
            cell=self.cell,
            skip_connections=self.skip_connections,
            gate_bias=self.gate_bias,
        )
        return config


@keras.saving.register_keras_serializable(package="advaudio")
class _GateBias(keras.initializers.Initializer):
    """Zero bias except `value` on the GRU update gate or the LSTM forget gate.

    Keras orders GRU gates (update z, reset r, candidate h) and LSTM gates
    (input i, forget f, cell c, output o); with `reset_after=True` the GRU bias
    has shape `[2, 3 * units]` (input and recurrent biases).
    """

    def __init__(self, cell: str, units: int, value: float):
        self.cell = cell
        self.units = units
        self.value = value

    def __call__(self, shape, dtype=None):
        bias = ops.zeros(shape, dtype=dtype)
        if not self.value:
            return bias
        u = self.units
        gate = 0 if self.cell == "gru" else 1  # index of the update / forget gate
        flat = ops.reshape(bias, (-1, shape[-1]))
        mask = ops.concatenate(
            [ops.zeros((gate * u,)), ops.ones((u,)), ops.zeros((shape[-1] - (gate + 1) * u,))]
        )
        # Put the whole value on the first row only (the input bias), so the gate sees it once.
        rows = [flat[0] + self.value * ops.cast(mask, flat.dtype)] + [flat[i] for i in range(1, flat.shape[0])]
        return ops.reshape(ops.stack(rows), shape)

    def get_config(self):
        return {"cell": self.cell, "units": self.units, "value": self.value}


def build_generator(model_cfg, data_cfg) -> FrameGRU:
    """Builds an (unbuilt-weights-initialised) FrameGRU from the config sections."""
    model = FrameGRU(
        frame_length=data_cfg.frame_length,
        units=model_cfg.units,
        layers=model_cfg.layers,
        cell=model_cfg.cell,
        skip_connections=model_cfg.skip_connections,
        gate_bias=model_cfg.gate_bias,
        name="frame_gru",
    )
    model.build((None, None, data_cfg.frame_length))
    return model
