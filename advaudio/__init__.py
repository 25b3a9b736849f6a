"""advaudio: raw-audio generation with a recurrent frame model and swappable training objectives."""

__version__ = "0.1.0"
