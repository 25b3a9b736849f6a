"""Adam whose update of each weight is TensorFlow's fused kernel: one pass over the weight, its two moments
and its gradient, where Keras' Adam runs five element-wise ops and reads and writes each tensor several times.

Same arithmetic as `keras.optimizers.Adam` (TensorFlow's `ApplyAdam` kernel):
    alpha = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)
    m += (g - m) * (1 - beta_1);   v += (g^2 - v) * (1 - beta_2)
    w -= m * alpha / (sqrt(v) + epsilon)
so results agree to rounding (tests/test_optimizers.py, float64); the moments are Keras' own variables, so
checkpoints written with `keras.optimizers.Adam` load unchanged. On the default model the update takes
~7 ms against ~16 ms per step on a 2-core CPU (README, Benchmarks: Training). Anything the kernel does not
cover (another backend, `amsgrad`, sparse gradients) takes Keras' update.
"""
from __future__ import annotations

import keras
import tensorflow as tf


def _handle(variable):
    """The resource handle of a Keras or TensorFlow variable (a distributed one resolves to this device's copy)."""
    return (variable.value if isinstance(variable, keras.Variable) else variable).handle


@keras.saving.register_keras_serializable(package="advaudio")
class FusedAdam(keras.optimizers.Adam):
    """`keras.optimizers.Adam` with TensorFlow's fused dense update (see the module docstring)."""

    def _fusable(self, gradient) -> bool:
        return keras.backend.backend() == "tensorflow" and not self.amsgrad and not isinstance(gradient, tf.IndexedSlices)

    def update_step(self, gradient, variable, learning_rate):
        if not self._fusable(gradient):
            return super().update_step(gradient, variable, learning_rate)
        dtype = variable.dtype
        local_step = tf.cast(self.iterations + 1, dtype)
        index = self._get_variable_index(variable)
        # As Keras' update: the powers of beta come from `cast(beta)`, which rounds the Python float to float32
        # first; 1 - beta and epsilon are exact (Python floats meeting a tensor of the variable's dtype).
        beta_1, beta_2, epsilon = (tf.constant(x, dtype) for x in (self.beta_1, self.beta_2, self.epsilon))
        tf.raw_ops.ResourceApplyAdam(
            var=_handle(variable),
            m=_handle(self._momentums[index]),
            v=_handle(self._velocities[index]),
            beta1_power=tf.pow(tf.cast(self.beta_1, dtype), local_step),
            beta2_power=tf.pow(tf.cast(self.beta_2, dtype), local_step),
            lr=tf.cast(learning_rate, dtype),
            beta1=beta_1,
            beta2=beta_2,
            epsilon=epsilon,
            grad=tf.cast(gradient, dtype),
            use_locking=False,
        )
