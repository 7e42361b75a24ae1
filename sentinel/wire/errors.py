"""Errors and warnings raised by the wire codec."""


class WireError(Exception):
    """A value cannot be encoded, or bytes cannot be decoded into a registered message.

    Raised for garbage, truncated, oversize or corrupt frames and for frames that name a
    class that is not registered. Decoding never runs code from the frame.
    """


class RegistrationError(TypeError):
    """A message type cannot travel: raised at import time, naming the class and field."""


class WireWarning(UserWarning):
    """A message type will travel, but a field may not mean what it says."""
