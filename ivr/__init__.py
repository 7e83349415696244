"""ivr: a telephone IVR call-flow engine for Asterisk."""

__version__ = "0.1.0"
