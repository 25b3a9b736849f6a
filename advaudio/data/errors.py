"""The one exception type of the data layer: bad input found before training."""


class DataError(ValueError):
    """Bad audio input or data config; the message names the file or key and the fix."""
