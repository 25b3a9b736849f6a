"""FrameGRU, the next-frame generator: its whole-sequence call, its one-frame step and its folded feedback rollout.

On a CPU the sequence call projects each layer's input for the whole sequence
in one matrix product and then runs the recurrence (Keras' cell arithmetic,
Keras' weights); with a GPU visible Keras' own layers run (cuDNN). Generation
and the training unrolls advance the model through `step` or, when the
fed-back frame is the prediction itself, through `feedback_unroll`, with the
Dense head folded into the first layer's input kernel.
"""
from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf
from keras import ops

CELLS = {"gru": keras.layers.GRU, "lstm": keras.layers.LSTM}
GATES = {"gru": 3, "lstm": 4}  # gate blocks in each kernel's columns (Keras order: z r h / i f c o)
RECURRENCES = ("auto", "fused", "keras")


def gpu_visible() -> bool:
    """Whether TensorFlow sees a GPU; then the sequence call runs Keras' layers (cuDNN)."""
    return bool(tf.config.list_physical_devices("GPU"))


# --------------------------------------------------------------------------- cell arithmetic


def input_bias(cell):
    """The bias added to `inputs @ cell.kernel`: `[gates * units]` (None without bias).

    GRU (reset_after) keeps two bias rows, `[2, 3 * units]`: input and recurrent.
    """
    if not cell.use_bias:
        return None
    return cell.bias[0] if isinstance(cell, keras.layers.GRUCell) else cell.bias


def recurrent_bias(cell):
    """The bias added to `h_tm1 @ cell.recurrent_kernel` (GRU only; None for LSTM)."""
    if isinstance(cell, keras.layers.GRUCell) and cell.use_bias:
        return cell.bias[1]
    return None


def cell_from_projections(cell, projection, recurrent_projection, states):
    """One step of a Keras GRUCell (reset_after=True) or LSTMCell from its two matrix products.

    Mirrors keras/src/layers/rnn/gru.py and lstm.py (no dropout); the tests
    check it against the Keras layers in float64.

    Args:
        cell: the layer's `keras.layers.GRUCell` / `LSTMCell` (its weights).
        projection: `[batch, gates * units]` = inputs @ cell.kernel + `input_bias(cell)`.
        recurrent_projection: `[batch, gates * units]` = h_tm1 @ cell.recurrent_kernel (no bias).
        states: `[h_tm1]` (GRU) or `[h_tm1, c_tm1]` (LSTM), each `[batch, units]`.
    Returns:
        (h `[batch, units]`, new states list).
    """
    h_tm1 = states[0]
    if isinstance(cell, keras.layers.GRUCell):
        if not cell.reset_after:
            raise TypeError("the fused GRU arithmetic needs reset_after=True (FrameGRU always uses it)")
        inner = recurrent_projection
        bias = recurrent_bias(cell)
        if bias is not None:
            inner = inner + bias
        x_z, x_r, x_h = tf.split(projection, 3, axis=-1)
        rec_z, rec_r, rec_h = tf.split(inner, 3, axis=-1)
        z = cell.recurrent_activation(x_z + rec_z)
        r = cell.recurrent_activation(x_r + rec_r)
        hh = cell.activation(x_h + r * rec_h)
        h = z * h_tm1 + (1 - z) * hh
        return h, [h]
    if isinstance(cell, keras.layers.LSTMCell):
        c_tm1 = states[1]
        z = projection + recurrent_projection
        z_i, z_f, z_c, z_o = tf.split(z, 4, axis=-1)
        i = cell.recurrent_activation(z_i)
        f = cell.recurrent_activation(z_f)
        c = f * c_tm1 + i * cell.activation(z_c)
        o = cell.recurrent_activation(z_o)
        h = o * cell.activation(c)
        return h, [h, c]
    raise TypeError(f"no fused arithmetic for a {type(cell).__name__}")


def _with_bias(product, bias):
    return product if bias is None else product + bias


def _project(x, kernel, bias=None):
    """`x @ kernel (+ bias)` for `x` of any rank `[..., in]` as ONE `[rows, in] x [in, out]` product."""
    x = tf.convert_to_tensor(x)
    kernel = tf.convert_to_tensor(kernel)
    rows = tf.reshape(x, [-1, tf.shape(x)[-1]])
    out = tf.reshape(tf.matmul(rows, kernel), tf.concat([tf.shape(x)[:-1], tf.shape(kernel)[-1:]], 0))
    out = tf.ensure_shape(out, x.shape[:-1].concatenate(kernel.shape[-1:]))
    return _with_bias(out, bias)


@tf.custom_gradient
def _fold_product(head_kernel, frame_kernel):
    """`head_kernel @ frame_kernel` (`[units, frame_length] x [frame_length, gates * units]`), whose gradient
    for `head_kernel`, d_fold @ frame_kernel^T, is computed as (frame_kernel @ d_fold^T)^T: the same
    products, but oneDNN's CPU matmul multiplies by a transposed `[frame_length, gates * units]` operand
    at about half speed (benchmarks/training.py: 21 ms against 11 ms for frames of 4000, 256 units).
    """

    def grad(d_fold):
        d_head = tf.transpose(tf.matmul(frame_kernel, d_fold, transpose_b=True))
        return d_head, tf.matmul(head_kernel, d_fold, transpose_a=True)

    return tf.matmul(head_kernel, frame_kernel), grad


def _loop(steps, body, carry):
    """`tf.while_loop` over t = 0..steps-1 (bounded, so XLA can compile it)."""
    return tf.while_loop(lambda t, *_: t < steps, body, (tf.constant(0),) + tuple(carry), maximum_iterations=steps)[1:]


def _reader(sequence):
    """A TensorArray to `read(t)` rows of a time-major `[steps, ...]` tensor."""
    return tf.TensorArray(sequence.dtype, size=tf.shape(sequence)[0], element_shape=sequence.shape[1:]).unstack(sequence)


def _writer(like, steps, width):
    return tf.TensorArray(like.dtype, size=steps, element_shape=like.shape[:1].concatenate([width]))


# The recurrences run the batch's rows in this many independent groups inside one loop (rows never
# interact in a recurrence, so the results are the same): each step's `[rows, units] x [units, gates *
# units]` product is then several smaller products that TensorFlow runs side by side, one per core.
# On the 2-core CPUs of this project one product of 16 rows keeps about one core busy; two groups made
# a GRU layer's forward and backward loops 13-17% faster (benchmarks/training.py, recurrence variants).
ROW_GROUPS = 2


def _row_groups(h0) -> int:
    """How many row groups the recurrence of `h0`'s `[batch, units]` rows runs in (1 when batch < 2)."""
    batch = h0.shape[0]
    return 1 if batch is not None and batch < ROW_GROUPS else ROW_GROUPS


def _split_rows(x, groups: int, axis: int) -> list:
    """`x` split along `axis` into `groups` consecutive parts (the last takes the remainder); [x] for 1."""
    if groups == 1:
        return [x]
    rows = tf.shape(x)[axis]
    sizes = [rows // groups] * (groups - 1)
    return tf.split(x, tf.stack(sizes + [rows - sum(sizes)]), axis=axis, num=groups)


def _join_rows(parts, axis: int):
    return parts[0] if len(parts) == 1 else tf.concat(parts, axis)


def _stack_rows(arrays) -> tf.Tensor:
    """The time-major `[steps, batch, ...]` tensor of per-group TensorArrays."""
    return _join_rows([a.stack() for a in arrays], 1)


def _by_group(step, *per_group) -> tuple:
    """`step(*one group's arguments)` for every group, its results regrouped: one tuple per result, one
    entry per group (the loop carry's layout)."""
    return tuple(zip(*(step(*args) for args in zip(*per_group))))


def _gru_forward(projections, kernel, bias, h0):
    """GRU recurrence over time-major projections `[steps, batch, 3 units]` (input bias included).

    Returns (h `[steps, batch, units]`, the saved activations `[steps, batch,
    4 units]`: z, r, candidate n and the recurrent candidate term rh).
    The rows run in `ROW_GROUPS` independent groups.
    """
    steps, units, groups = tf.shape(projections)[0], h0.shape[-1], _row_groups(h0)
    inputs = [_reader(x) for x in _split_rows(projections, groups, 1)]

    def body(t, hs, outs, saveds):
        def step(inputs, h, out, saved):
            x_zr, x_h = tf.split(inputs.read(t), [2 * units, units], axis=-1)
            rec_zr, rec_h = tf.split(tf.nn.bias_add(tf.matmul(h, kernel), bias), [2 * units, units], axis=-1)
            zr = tf.sigmoid(x_zr + rec_zr)  # both gates in one op
            z, r = tf.split(zr, 2, axis=-1)
            n = tf.tanh(x_h + r * rec_h)
            h = n + z * (h - n)  # = z h + (1 - z) n in one op fewer
            return h, out.write(t, h), saved.write(t, tf.concat([zr, n, rec_h], -1))

        return (t + 1,) + _by_group(step, inputs, hs, outs, saveds)

    h0s = _split_rows(h0, groups, 0)
    carry = (tuple(h0s), tuple(_writer(h, steps, units) for h in h0s), tuple(_writer(h, steps, 4 * units) for h in h0s))
    _, outs, saveds = _loop(steps, body, carry)
    return _stack_rows(outs), _stack_rows(saveds)


def _gru_backward(d_outputs, d_last, outputs, saved, kernel, h0):
    """Backpropagation through `_gru_forward`: (d projections, d kernel, d bias, d h0).

    Everything that does not depend on the incoming gradient dh is computed
    before the loop, over all steps at once: with a, b, c `[steps, batch, units]`,
    d_n = dh a, d_z = dh b, d_r = dh c, so the gate gradients are
    [dh, dh, dh] * [b, c, a] and the recurrent product's are [dh, dh, dh] * [b, c, a r].
    The loop then carries only dh (10 ops per step and row group instead of 27).
    """
    steps, units, groups = tf.shape(outputs)[0], h0.shape[-1], _row_groups(h0)
    previous = tf.concat([h0[None], outputs[:-1]], 0)
    z, r, n, rec_h = tf.split(saved, 4, axis=-1)
    a = (1 - z) * (1 - n * n)
    b = (previous - n) * z * (1 - z)
    c = a * rec_h * r * (1 - r)
    to_rec = tf.concat([b, c, a * r], -1)
    readers = [[_reader(x) for x in _split_rows(seq, groups, 1)] for seq in (d_outputs, to_rec, z)]
    kernel_t = tf.transpose(kernel)

    def body(i, dh_nexts, dhs):
        t = steps - 1 - i

        def step(d_outputs, to_rec_r, z_r, dh_next, dh_out):
            dh = d_outputs.read(t) + dh_next
            d_rec_t = tf.tile(dh, [1, 3]) * to_rec_r.read(t)
            return dh * z_r.read(t) + tf.matmul(d_rec_t, kernel_t), dh_out.write(t, dh)

        return (i + 1,) + _by_group(step, *readers, dh_nexts, dhs)

    lasts = _split_rows(d_last, groups, 0)
    dh0s, dhs = _loop(steps, body, (tuple(lasts), tuple(_writer(h, steps, units) for h in lasts)))
    dh3 = tf.tile(_stack_rows(dhs), [1, 1, 3])
    flat = tf.reshape(dh3 * to_rec, [-1, 3 * units])
    d_kernel = tf.matmul(tf.reshape(previous, [-1, units]), flat, transpose_a=True)  # one product over all steps
    return dh3 * tf.concat([b, c, a], -1), d_kernel, tf.reduce_sum(flat, 0), _join_rows(dh0s, 0)


def _lstm_forward(projections, kernel, h0, c0):
    """LSTM recurrence over time-major projections `[steps, batch, 4 units]` (bias included).

    Returns (h `[steps, batch, units]`, c `[steps, batch, units]`, the saved
    gate activations `[steps, batch, 4 units]`: i, f, g, o).
    The rows run in `ROW_GROUPS` independent groups.
    """
    steps, units, groups = tf.shape(projections)[0], h0.shape[-1], _row_groups(h0)
    inputs = [_reader(x) for x in _split_rows(projections, groups, 1)]

    def body(t, hs, cs, h_outs, c_outs, saveds):
        def step(inputs, h, c, h_out, c_out, saved):
            z_i, z_f, z_c, z_o = tf.split(inputs.read(t) + tf.matmul(h, kernel), 4, axis=-1)
            i, f, g, o = tf.sigmoid(z_i), tf.sigmoid(z_f), tf.tanh(z_c), tf.sigmoid(z_o)
            c = f * c + i * g
            h = o * tf.tanh(c)
            return h, c, h_out.write(t, h), c_out.write(t, c), saved.write(t, tf.concat([i, f, g, o], -1))

        return (t + 1,) + _by_group(step, inputs, hs, cs, h_outs, c_outs, saveds)

    h0s, c0s = _split_rows(h0, groups, 0), _split_rows(c0, groups, 0)
    carry = (tuple(h0s), tuple(c0s), tuple(_writer(h, steps, units) for h in h0s),
             tuple(_writer(h, steps, units) for h in h0s), tuple(_writer(h, steps, 4 * units) for h in h0s))
    _, _, h_outs, c_outs, saveds = _loop(steps, body, carry)
    return _stack_rows(h_outs), _stack_rows(c_outs), _stack_rows(saveds)


def _lstm_backward(d_outputs, d_last_h, d_last_c, outputs, cells, saved, kernel, h0, c0):
    """Backpropagation through `_lstm_forward`: (d projections, d kernel, d h0, d c0).

    As in `_gru_backward`, the factors that do not depend on the incoming
    gradients are computed before the loop: dc = dc_next + dh * o (1 - tanh(c)^2),
    and the gate gradients are [dc, dc, dc, dh] * [g i (1 - i), c_prev f (1 - f),
    i (1 - g^2), tanh(c) o (1 - o)].
    """
    steps, units, groups = tf.shape(outputs)[0], h0.shape[-1], _row_groups(h0)
    previous = tf.concat([h0[None], outputs[:-1]], 0)
    previous_c = tf.concat([c0[None], cells[:-1]], 0)
    i, f, g, o = tf.split(saved, 4, axis=-1)
    tanh_c = tf.tanh(cells)
    to_dc = o * (1 - tanh_c * tanh_c)
    to_gates = tf.concat([g * i * (1 - i), previous_c * f * (1 - f), i * (1 - g * g), tanh_c * o * (1 - o)], -1)
    readers = [[_reader(x) for x in _split_rows(seq, groups, 1)] for seq in (d_outputs, to_dc, to_gates, f)]
    kernel_t = tf.transpose(kernel)

    def body(k, dh_nexts, dc_nexts, d_projs):
        t = steps - 1 - k

        def step(d_outputs, to_dc_r, to_gates_r, f_r, dh_next, dc_next, d_proj):
            dh = d_outputs.read(t) + dh_next
            dc = dc_next + dh * to_dc_r.read(t)
            d_gates = tf.concat([dc, dc, dc, dh], -1) * to_gates_r.read(t)
            return tf.matmul(d_gates, kernel_t), dc * f_r.read(t), d_proj.write(t, d_gates)

        return (k + 1,) + _by_group(step, *readers, dh_nexts, dc_nexts, d_projs)

    lasts_h, lasts_c = _split_rows(d_last_h, groups, 0), _split_rows(d_last_c, groups, 0)
    carry = (tuple(lasts_h), tuple(lasts_c), tuple(_writer(h, steps, 4 * units) for h in lasts_h))
    dh0s, dc0s, d_projs = _loop(steps, body, carry)
    d_proj = _stack_rows(d_projs)
    d_kernel = tf.matmul(tf.reshape(previous, [-1, units]), tf.reshape(d_proj, [-1, 4 * units]), transpose_a=True)
    return d_proj, d_kernel, _join_rows(dh0s, 0), _join_rows(dc0s, 0)


# XLA-compiling the forward and backward loops cut a step of the recurrence variants (a bare
# forward + backward + Adam step) by 7-9% on the AVX-512 CPUs measured, but not a step of the training
# loop: on the Intel Xeon (twelfth session, benchmarks/training.py --steps 20) the loop took 115-118 ms with
# them against 109-113 ms without (CPU time within 4%); on the AVX2 EPYC they were slower under load. So the
# loops run in graph mode unless RECURRENCE_JIT is set. TensorFlow 2.21 cannot take a gradient through a
# compiled function traced inside a `tf.cond` branch ("Could not find external tensor capture"; scheduled
# sampling's branch), so there they run in graph mode anyway (`_inside_cond`).
RECURRENCE_JIT = False
_COMPILED: dict = {}


def _inside_cond() -> bool:
    """Whether the graph being traced is (inside) a `tf.cond` branch."""
    from tensorflow.python.ops import control_flow_v2_func_graphs as branches

    graph = tf.compat.v1.get_default_graph()
    while graph is not None:
        if isinstance(graph, branches.CondBranchFuncGraph):
            return True
        graph = getattr(graph, "outer_graph", None)
    return False


def recurrence_jit() -> bool:
    """Whether the recurrence loops traced now are XLA-compiled: with `RECURRENCE_JIT`, outside eager mode and
    outside `tf.cond` branches."""
    return RECURRENCE_JIT and not tf.executing_eagerly() and not _inside_cond()


def _compiled(fn):
    """`fn` XLA-compiled when `recurrence_jit()`; else `fn` itself."""
    if not recurrence_jit():
        return fn
    if fn not in _COMPILED:
        _COMPILED[fn] = tf.function(fn, jit_compile=True)
    return _COMPILED[fn]


def _zeros_if_none(grad, like):
    return tf.zeros_like(like) if grad is None else grad


@tf.custom_gradient
def _gru_sequence(projections, kernel, bias, h0):
    outputs, saved = _compiled(_gru_forward)(projections, kernel, bias, h0)

    def grad(d_outputs, d_last):
        d_outputs = _zeros_if_none(d_outputs, outputs)
        return _compiled(_gru_backward)(d_outputs, _zeros_if_none(d_last, h0), outputs, saved, kernel, h0)

    return (outputs, outputs[-1]), grad


@tf.custom_gradient
def _lstm_sequence(projections, kernel, h0, c0):
    outputs, cells, saved = _compiled(_lstm_forward)(projections, kernel, h0, c0)

    def grad(d_outputs, d_last_h, d_last_c):
        d_outputs = _zeros_if_none(d_outputs, outputs)
        return _compiled(_lstm_backward)(d_outputs, _zeros_if_none(d_last_h, h0), _zeros_if_none(d_last_c, c0),
                                         outputs, cells, saved, kernel, h0, c0)

    return (outputs, outputs[-1], cells[-1]), grad


def _has_default_activations(cell) -> bool:
    return cell.activation is keras.activations.tanh and cell.recurrent_activation is keras.activations.sigmoid


def recurrence(cell, projections, states):
    """Runs one recurrent layer over precomputed input projections.

    h_t, states_t = cell(projections[:, t], h_{t-1} @ recurrent_kernel, states_{t-1})

    A `tf.while_loop` over time with a hand-written backward loop (BPTT) whose
    recurrent-kernel gradient is one `[units, batch * steps] x [batch * steps,
    gates * units]` product; benchmarks/training.py measures it against the
    autodiff loop, `tf.scan` and XLA. Cells with other activations than
    Keras' defaults run the autodiff loop on `cell_from_projections`.

    Args:
        cell: the layer's GRUCell / LSTMCell.
        projections: `[batch, steps, gates * units]`, inputs @ kernel + input bias.
        states: list of `[batch, units]` initial states.
    Returns:
        (outputs `[batch, steps, units]`, final states list).
    """
    outputs, states = time_major_recurrence(cell, tf.transpose(projections, [1, 0, 2]), states)
    return tf.transpose(outputs, [1, 0, 2]), states


def time_major_recurrence(cell, projections, states):
    """`recurrence` on time-major tensors: projections `[steps, batch, gates * units]` -> (outputs
    `[steps, batch, units]`, final states list). A stack of layers stays time-major between its layers
    (the next layer's input projection is row-wise), so only its ends are transposed."""
    kernel = tf.convert_to_tensor(cell.recurrent_kernel)
    if not _has_default_activations(cell):
        outputs, states = autodiff_recurrence(cell, projections, states)
    elif isinstance(cell, keras.layers.GRUCell):
        bias = recurrent_bias(cell)
        bias = tf.zeros(kernel.shape[-1:], kernel.dtype) if bias is None else tf.convert_to_tensor(bias)
        outputs, last = _gru_sequence(projections, kernel, bias, states[0])
        states = [last]
    else:
        outputs, last_h, last_c = _lstm_sequence(projections, kernel, states[0], states[1])
        states = [last_h, last_c]
    return tf.ensure_shape(outputs, projections.shape[:-1].concatenate([states[0].shape[-1]])), list(states)


def autodiff_recurrence(cell, projections, states):
    """`recurrence` as a plain `tf.while_loop` on `cell_from_projections`, differentiated by TensorFlow.

    Args: time-major projections `[steps, batch, gates * units]`, states.
    Returns: (outputs `[steps, batch, units]` time-major, final states).
    """
    steps, inputs = tf.shape(projections)[0], _reader(projections)
    kernel = tf.convert_to_tensor(cell.recurrent_kernel)

    def body(t, states, outputs):
        h, states = cell_from_projections(cell, inputs.read(t), tf.matmul(states[0], kernel), states)
        return t + 1, states, outputs.write(t, h)

    states, outputs = _loop(steps, body, (list(states), _writer(states[0], steps, states[0].shape[-1])))
    return outputs.stack(), list(states)


class FoldedFeedback(NamedTuple):
    """The Dense head folded into the first layer's input kernel (see `FrameGRU.fold_feedback`).

    kernel: `[units, gates * units]` = W_head @ K_0[:frame_length].
    bias: `[gates * units]` = b_head @ K_0[:frame_length] + input bias of layer 0.
    pairs: None, or per layer `[2, units, gates * units]`: the kernel that takes
        the layer's new output (the next layer's input kernel; for the top
        layer `kernel`) stacked on the layer's own recurrent kernel.
    """

    kernel: tf.Tensor
    bias: tf.Tensor
    pairs: list | None = None


# --------------------------------------------------------------------------- the model


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
        noise_dim: width of a fresh standard-normal vector concatenated to
            every input frame before the first recurrent layer (a stochastic
            generator); 0 (default) is the deterministic model.
        layer_noise: if True, every layer's output on its way up (to the next
            layer and the head) gets fresh standard-normal noise times a
            learned per-unit scale, initialised at zero (StyleGAN's noise
            inputs, Karras et al. 2019); the recurrent state itself stays
            clean, so the recurrence (and cuDNN) is unchanged. The noise of a
            step is `noise_width = noise_dim + layers * units` values.
        encoder: None (default: the recurrent stack reads the raw frame), or
            a layer `[..., frame_length] -> [..., output_dim]` applied to every
            input frame first (advaudio/encoders.py; noise is concatenated
            after it). A model with an encoder is not `foldable`.
        recurrence: how the sequence call runs the recurrent layers: "fused"
            (each layer's input projection for the whole sequence as one
            matrix product, then the recurrence), "keras" (Keras' layers) or
            "auto" (default: "keras" when a GPU is visible, for cuDNN, else
            "fused"). Same weights and results either way.
        **kwargs: forwarded to `keras.Model`.

    Shapes:
        call: frames `[batch, steps, frame_length]` (noise `[batch, steps,
        noise_width]` or None) -> predictions `[batch, steps, frame_length]`,
        where prediction t estimates frame t+1.
        step: frame `[batch, frame_length]`, states (list, one `[batch, units]`
        per GRU layer, two per LSTM layer), noise `[batch, noise_width]` or None
        -> (prediction `[batch, frame_length]`, new states).

    The weights are Keras' GRU/LSTM layers' (`recurrent_layers[i].cell`:
    kernel, recurrent_kernel, bias), so checkpoints of either path load in the
    other. The defaults keep the cuDNN kernel eligible on a GPU (tanh/sigmoid
    activations, no recurrent dropout, `reset_after=True`, unroll False).

    Example:
        >>> model = FrameGRU(frame_length=400, units=64, layers=2)
        >>> y = model(keras.random.normal((2, 8, 400)))  # [2, 8, 400]

    Reference: the 2016 course project's 2-layer GRU next-frame model; SampleRNN
    (Mehri et al., 2017) for frame-level recurrent audio models; C-RNN-GAN
    (Mogren, 2016) for noise concatenated to every step's input; StyleGAN
    (Karras et al., 2019) for learned-scale noise added to every layer.
    """

    def __init__(
        self,
        frame_length: int,
        units: int = 256,
        layers: int = 2,
        cell: str = "gru",
        skip_connections: bool = False,
        gate_bias: float = 0.0,
        noise_dim: int = 0,
        layer_noise: bool = False,
        recurrence: str = "auto",
        encoder=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if cell not in CELLS:
            raise ValueError(f"model.cell must be one of {sorted(CELLS)}, got {cell!r}")
        if layers < 1 or units < 1 or frame_length < 1:
            raise ValueError("model.layers, model.units and data.frame_length must be >= 1")
        if noise_dim < 0:
            raise ValueError(f"model.noise_dim must be >= 0 (0: no noise input), got {noise_dim}")
        if recurrence not in RECURRENCES:
            raise ValueError(f"recurrence must be one of {RECURRENCES}, got {recurrence!r}")
        self.frame_length = frame_length
        self.units = units
        self.num_layers = layers
        self.cell = cell
        self.skip_connections = skip_connections
        self.gate_bias = gate_bias
        self.noise_dim = int(noise_dim)
        self.layer_noise = bool(layer_noise)
        self.noise_scales = []  # per layer `[units]` (layer_noise), made in build
        self.recurrence = recurrence
        self.encoder = keras.saving.deserialize_keras_object(encoder) if isinstance(encoder, dict) else encoder
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

    @property
    def gates(self) -> int:
        return GATES[self.cell]

    @property
    def cells(self) -> list:
        """The recurrent cells (the weights), first layer first."""
        return [layer.cell for layer in self.recurrent_layers]

    def build(self, input_shape):
        shape = tuple(input_shape)
        if self.encoder is not None and not self.encoder.built:
            self.encoder.build(shape[:-1] + (self.frame_length,))
        width = self.frame_length if self.encoder is None else self.encoder.output_dim
        shape = shape[:-1] + (width + self.noise_dim,)
        for layer in self.recurrent_layers:
            layer.build(shape)
            shape = shape[:-1] + (self.units,)
        width = self.units + (self.frame_length + self.units * (self.num_layers - 1) if self.skip_connections else 0)
        self.head.build(shape[:-1] + (width,))
        if self.layer_noise and not self.noise_scales:
            self.noise_scales = [
                self.add_weight(name=f"noise_scale_{i}", shape=(self.units,), initializer="zeros")
                for i in range(self.num_layers)
            ]
        self.built = True

    # ------------------------------------------------------------------ noise

    @property
    def noise_width(self) -> int:
        """Noise values per step: `noise_dim` for the input, then `layers * units` with `layer_noise`."""
        return self.noise_dim + (self.num_layers * self.units if self.layer_noise else 0)

    def draw_noise(self, batch, steps, seed):
        """Stateless standard-normal noise `[batch, steps, noise_width]` from a `[2]` int seed."""
        return tf.random.stateless_normal(
            tf.stack([batch, steps, self.noise_width]), seed=seed, dtype=self.head.kernel.dtype
        )

    def split_noise(self, noise):
        """A step's noise `[..., noise_width]` (or None) -> (input noise `[..., noise_dim]` or None,
        per-layer noise `[..., layers, units]` or None)."""
        if noise is None:
            return None, None
        if not self.noise_width:
            if noise.shape[-1] not in (0, None):
                raise ValueError(f"this model has noise_dim=0 but got noise of width {noise.shape[-1]}")
            return None, None
        noise = tf.convert_to_tensor(noise, self.head.kernel.dtype)
        if noise.shape[-1] != self.noise_width:
            raise ValueError(
                f"noise must be [..., noise_width={self.noise_width}] (noise_dim={self.noise_dim}"
                f"{f' + {self.num_layers} layers x {self.units} units of layer noise' if self.layer_noise else ''}), "
                f"got {noise.shape}"
            )
        inputs = noise[..., : self.noise_dim] if self.noise_dim else None
        layers = None
        if self.layer_noise:
            shape = tf.concat([tf.shape(noise)[:-1], [self.num_layers, self.units]], 0)
            layers = tf.ensure_shape(tf.reshape(noise[..., self.noise_dim :], shape),
                                     noise.shape[:-1].concatenate([self.num_layers, self.units]))
        return inputs, layers

    def _noisy_input(self, frames, noise):
        """`[..., frame_length]`, input noise `[..., noise_dim]` or None (zeros) -> `[..., frame_length +
        noise_dim]`; with an encoder, `[..., encoder.output_dim + noise_dim]`."""
        if self.encoder is not None:
            frames = self.encoder(frames)
        if not self.noise_dim:
            return frames
        if noise is None:
            noise = tf.zeros(tf.concat([tf.shape(frames)[:-1], [self.noise_dim]], 0), frames.dtype)
        return tf.concat([frames, tf.cast(noise, frames.dtype)], axis=-1)

    def _layer_output(self, i, h, layer_noise):
        """Layer i's output on its way up: h + scale_i * noise_i (`layer_noise` `[..., layers, units]`), or h."""
        if layer_noise is None:
            return h
        return h + self.noise_scales[i] * layer_noise[..., i, :]

    # ------------------------------------------------------------------ sequences

    def uses_fused_recurrence(self) -> bool:
        """Whether the sequence call runs the fused path (see `recurrence`)."""
        if self.recurrence == "auto":
            return not gpu_visible()
        return self.recurrence == "fused"

    def features_with_states(self, frames, initial_states=None, training=None, noise=None):
        """The sequence call without the head: what the head reads at every step, and the final states.

        Args: as `call_with_states`.
        Returns:
            (features `[batch, steps, head_width]`, list of final states), where
            head(features) are the predictions; head_width is `units` (the top
            layer's output, its layer noise included), or with skip connections
            `frame_length + layers * units` (the frame and every layer's output).
        """
        frames = tf.convert_to_tensor(frames)
        input_noise, layer_noise = self.split_noise(noise)
        x = self._noisy_input(frames, input_noise)
        features = [frames] if self.skip_connections else []
        if self.uses_fused_recurrence():
            return self._fused_features(x, features, initial_states, layer_noise)
        final_states = []
        k = self.states_per_layer
        for i, layer in enumerate(self.recurrent_layers):
            init = None if initial_states is None else list(initial_states[i * k : (i + 1) * k])
            out = layer(x, initial_state=init, training=training)
            x, states = out[0], list(out[1:])
            x = self._layer_output(i, x, layer_noise)
            final_states.extend(states)
            if self.skip_connections:
                features.append(x)
        head_in = ops.concatenate(features, axis=-1) if self.skip_connections else x
        return head_in, final_states

    def _fused_features(self, x, features, initial_states, layer_noise):
        """`features_with_states` on the fused recurrence (x: the first layer's input `[batch, steps,
        width]`; features: [frames] with skip connections, else []). The stack runs time-major: the first
        layer's projection is transposed in, the top output out (and, with skips, each layer's)."""
        k = self.states_per_layer
        batch = tf.shape(x)[0]
        if layer_noise is not None:
            layer_noise = tf.transpose(layer_noise, [1, 0, 2, 3])
        by_time, final_states = None, []
        for i, cell in enumerate(self.cells):
            if initial_states is None:
                init = [tf.zeros(tf.stack([batch, self.units]), x.dtype)] * k
            else:
                init = list(initial_states[i * k : (i + 1) * k])
            if i == 0:
                projection = tf.transpose(_project(x, cell.kernel, input_bias(cell)), [1, 0, 2])
            else:
                projection = _project(by_time, cell.kernel, input_bias(cell))
            by_time, states = time_major_recurrence(cell, projection, init)
            by_time = self._layer_output(i, by_time, layer_noise)
            final_states.extend(states)
            if self.skip_connections:
                features.append(tf.transpose(by_time, [1, 0, 2]))
        if self.skip_connections:
            return ops.concatenate(features, axis=-1), final_states
        return tf.transpose(by_time, [1, 0, 2]), final_states

    def _run(self, frames, initial_states=None, training=None, noise=None):
        """Runs the stack over a sequence; returns (predictions, final states)."""
        features, final_states = self.features_with_states(frames, initial_states, training, noise)
        return self.head(features), final_states

    def call(self, frames, training=None, noise=None):
        return self._run(frames, training=training, noise=noise)[0]

    def call_with_states(self, frames, initial_states=None, training=None, noise=None):
        """Like `call` but also takes and returns the recurrent states.

        Args:
            frames: `[batch, steps, frame_length]`.
            initial_states: list of `[batch, units]` tensors or None (zeros).
            noise: `[batch, steps, noise_width]` or None (zeros).
        Returns:
            (predictions `[batch, steps, frame_length]`, list of final states).
        """
        return self._run(frames, initial_states=initial_states, training=training, noise=noise)

    def initial_states(self, batch_size):
        """Zero states: a list of `[batch, units]` tensors."""
        return [ops.zeros((batch_size, self.units)) for _ in range(self.num_layers * self.states_per_layer)]

    # ------------------------------------------------------------------ one frame at a time

    def input_projection(self, frames, noise=None):
        """The first layer's input projection of frames (and noise), input bias included.

        `[..., frame_length]` (noise `[..., noise_width]` or None; its input part is used) ->
        `[..., gates * units]`, computed as one matrix product over all leading axes.
        """
        return self._first_projection(frames, self.split_noise(noise)[0])

    def _first_projection(self, frames, input_noise):
        """`input_projection` from the input part of the noise (`[..., noise_dim]` or None)."""
        cell = self.cells[0]
        return _project(self._noisy_input(tf.convert_to_tensor(frames), input_noise), cell.kernel, input_bias(cell))

    def noise_parts(self, noise):
        """What a step's noise adds where the head is folded into the first layer: `[..., noise_width]`
        -> (`input_noise @ K_0[frame_length:]` `[..., gates * units]` (no bias) or None without input noise,
        the layer noise `[..., layers, units]` or None without `layer_noise`)."""
        inputs, layers = self.split_noise(noise)
        return None if inputs is None else _project(inputs, self.cells[0].kernel[self.frame_length :]), layers

    def frame_projection(self, frames):
        """`frames @ K_0[:frame_length]`: `[..., frame_length]` -> `[..., gates * units]` (no bias;
        e.g. dither added to a fed-back frame)."""
        return _project(frames, self.cells[0].kernel[: self.frame_length])

    def _stack_step(self, projection, states, recurrent=None, layer_noise=None):
        """The recurrent stack on one step from the first layer's input projection
        (layer_noise: `[batch, layers, units]` or None).

        Returns (top output h `[batch, units]`, new states, each layer's output list).
        """
        k = self.states_per_layer
        new_states, outputs = [], []
        x = projection
        for i, cell in enumerate(self.cells):
            layer_states = list(states[i * k : (i + 1) * k])
            if i > 0:
                x = _project(outputs[-1], cell.kernel, input_bias(cell))
            rec = tf.matmul(layer_states[0], cell.recurrent_kernel) if recurrent is None else recurrent[i]
            h, layer_states = cell_from_projections(cell, x, rec, layer_states)
            new_states.extend(layer_states)
            outputs.append(self._layer_output(i, h, layer_noise))
        return outputs[-1], new_states, outputs

    def step(self, frame, states, noise=None):
        """Advances one frame with explicit states (used by generation and the training unrolls).

        Args:
            frame: `[batch, frame_length]`, the latest (true or fed-back) frame.
            states: list of `[batch, units]` tensors from `initial_states`,
                `call_with_states` or a previous `step`.
            noise: `[batch, noise_width]` or None (zeros).
        Returns:
            (prediction of the next frame `[batch, frame_length]`, new states).
        """
        frame = tf.convert_to_tensor(frame)
        input_noise, layer_noise = self.split_noise(noise)
        _, new_states, outputs = self._stack_step(self._first_projection(frame, input_noise), states,
                                                  layer_noise=layer_noise)
        head_in = ops.concatenate([frame] + outputs, axis=-1) if self.skip_connections else outputs[-1]
        return self.head(head_in), new_states

    # ------------------------------------------------------------------ folded feedback

    @property
    def foldable(self) -> bool:
        """Whether a fed-back prediction can skip the `[frame_length]` round trip:
        the head sees only the top layer and is affine (no skip connections)."""
        return (
            not self.skip_connections
            and self.encoder is None
            and self.head.activation in (None, keras.activations.linear)
            and self.head.use_bias
            and all(getattr(cell, "reset_after", True) for cell in self.cells)
        )

    def fold_feedback(self, paired: bool = False) -> FoldedFeedback:
        """The head folded into the first layer's input kernel (differentiable).

        A fed-back prediction pred = h W_head + b_head enters layer 0 as
        pred K_0 + b_0 = h (W_head K_0) + (b_head K_0 + b_0): a `[units, gates
        * units]` product per step instead of `[frame_length, gates * units]`.
        `paired` also stacks each layer's two output kernels (see FoldedFeedback).

        Raises:
            ValueError: the model is not `foldable` (skip connections).
        """
        if not self.foldable:
            raise ValueError("this FrameGRU cannot fold its head into its input (skip connections or another head)")
        cells = self.cells
        frame_kernel = tf.convert_to_tensor(cells[0].kernel)[: self.frame_length]
        kernel = _fold_product(tf.convert_to_tensor(self.head.kernel), frame_kernel)
        bias = _with_bias(tf.linalg.matvec(frame_kernel, self.head.bias, transpose_a=True), input_bias(cells[0]))
        pairs = None
        if paired:
            next_kernels = [cell.kernel for cell in cells[1:]] + [kernel]
            pairs = [tf.stack([tf.convert_to_tensor(nk), tf.convert_to_tensor(cell.recurrent_kernel)])
                     for nk, cell in zip(next_kernels, cells)]
        return FoldedFeedback(kernel, bias, pairs)

    def folded_projection(self, hidden, folded: FoldedFeedback):
        """The first layer's input projection of the prediction head(hidden), bias included, through the
        fold: `[..., units]` -> `[..., gates * units]`, one `[units, gates * units]` product."""
        return _with_bias(_project(hidden, folded.kernel), folded.bias)

    def head_projection(self, hidden):
        """The head on top-layer outputs: `[..., units]` -> `[..., frame_length]` (one product)."""
        return _project(hidden, self.head.kernel, self.head.bias)

    def feedback_unroll(self, projection, states, steps, folded: FoldedFeedback, added=None,
                        true_projections=None, feed_mask=None, layer_noise=None):
        """Unrolls the stack on its own predictions, the head folded into layer 0.

        step 0 runs on `projection`; step t >= 1 on
            fed_t = h_{t-1} folded.kernel + folded.bias (+ added[t])
            projection_t = fed_t                                    (no true_projections)
                           where(feed_mask[t], fed_t, true_projections[t])   (scheduled sampling)
        where h_{t-1} is the top layer's output: exactly the input projection of
        the prediction head(h_{t-1}) plus what `added` projects (dither, noise).
        With `layer_noise`, each layer's output on its way up is
        h + scale_i * layer_noise[t, :, i] (the state keeps h), as in `step`.

        With `folded.pairs` and batch 1, each layer's output meets its two
        kernels in one batched product `[2, 1, units] @ [2, units, gates *
        units]` (under XLA on a CPU, 2.6-3x faster than separate products; see
        benchmarks/generation.py); otherwise separate products.

        Args:
            projection: `[batch, gates * units]`, step 0's first-layer input projection
                (bias included), e.g. `input_projection(frame, noise)`.
            states: list of `[batch, units]` states before step 0.
            steps: number of steps (int or scalar tensor).
            folded: `fold_feedback()` (computed under the caller's tape for gradients).
            added: None or `[steps, batch, gates * units]` time-major, added to the
                fed-back projection of step t (row 0 unused).
            true_projections, feed_mask: None, or `[steps, batch, gates * units]`
                and `[steps, batch, 1]` bool: the true frame's projection and where
                the prediction is fed instead (row 0 unused).
            layer_noise: None, or `[steps, batch, layers, units]` time-major (see
                `split_noise`; the model must have `layer_noise`).
        Returns:
            (top-layer outputs, layer noise included, `[steps, batch, units]` time-major, final states);
            `head_projection` of the outputs gives the predictions.
        """
        projection = tf.convert_to_tensor(projection)
        cells, k = self.cells, self.states_per_layer
        batch_shape = projection.shape[:1]
        paired = folded.pairs is not None and batch_shape[0] == 1
        dtype = projection.dtype

        def reader(tensor):
            if tensor is None:
                return None
            tensor = tf.convert_to_tensor(tensor)
            size = tf.shape(tensor)[0]  # the last row is read twice (see `following`)
            return tf.TensorArray(tensor.dtype, size=size, element_shape=tensor.shape[1:],
                                  clear_after_read=False).unstack(tensor)

        added, true_projections, feed_mask = reader(added), reader(true_projections), reader(feed_mask)
        layer_noise = reader(layer_noise)
        if paired:
            pairs = folded.pairs
        else:
            out_kernels = [tf.convert_to_tensor(cell.kernel) for cell in cells[1:]] + [folded.kernel]
            rec_kernels = [tf.convert_to_tensor(cell.recurrent_kernel) for cell in cells]
        out_biases = [input_bias(cell) for cell in cells[1:]] + [folded.bias]
        recurrent = [tf.matmul(states[i * k], cell.recurrent_kernel) for i, cell in enumerate(cells)]
        hidden = tf.TensorArray(dtype, size=steps, element_shape=batch_shape.concatenate([self.units]))

        def body(t, projection, states, recurrent, hidden):
            x, new_states, new_recurrent = projection, [], []
            step_noise = None if layer_noise is None else layer_noise.read(t)
            for i, cell in enumerate(cells):
                h, layer_states = cell_from_projections(cell, x, recurrent[i], list(states[i * k : (i + 1) * k]))
                new_states.extend(layer_states)
                out = self._layer_output(i, h, step_noise)  # the state keeps h
                if paired:
                    x, own = tf.unstack(tf.matmul(tf.stack([out, h]), pairs[i]))
                else:
                    x, own = tf.matmul(out, out_kernels[i]), tf.matmul(h, rec_kernels[i])
                x = _with_bias(x, out_biases[i])
                new_recurrent.append(own)
            following = tf.minimum(t + 1, steps - 1)  # the last step's feed is never used
            if added is not None:
                x = x + added.read(following)
            if true_projections is not None:
                x = tf.where(feed_mask.read(following), x, true_projections.read(following))
            return t + 1, x, new_states, new_recurrent, hidden.write(t, out)

        _, _, states, _, hidden = tf.while_loop(
            lambda t, *_: t < steps, body, (tf.constant(0), projection, list(states), recurrent, hidden),
            maximum_iterations=steps,  # lets XLA compile the gradient's accumulators
        )
        return hidden.stack(), list(states)

    def get_config(self):
        config = super().get_config()
        config.update(
            frame_length=self.frame_length,
            units=self.units,
            layers=self.num_layers,
            cell=self.cell,
            skip_connections=self.skip_connections,
            gate_bias=self.gate_bias,
            noise_dim=self.noise_dim,
            layer_noise=self.layer_noise,
            recurrence=self.recurrence,
            encoder=None if self.encoder is None else keras.saving.serialize_keras_object(self.encoder),
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
    from advaudio.encoders import build_encoder  # model.encoder (advaudio/encoders.py)

    model = FrameGRU(
        frame_length=data_cfg.frame_length,
        units=model_cfg.units,
        layers=model_cfg.layers,
        cell=model_cfg.cell,
        skip_connections=model_cfg.skip_connections,
        gate_bias=model_cfg.gate_bias,
        noise_dim=model_cfg.noise_dim,
        layer_noise=model_cfg.layer_noise,
        encoder=build_encoder(model_cfg.encoder, data_cfg.frame_length, model_cfg.encoder_params),
        name="frame_gru",
    )
    model.build((None, None, data_cfg.frame_length))
    return model
