"""Numbers of seconds as settings spell them, shared by the settings, the probe and the PID-1 supervisor
(which is why this module imports nothing)."""


def seconds(text: str, zero: bool = False) -> float | None:
    """`text` as a finite number of seconds, above 0 (or at least 0 with `zero`); None if it is not one."""
    try:
        value = float(text)
    except ValueError:
        return None
    if not (0 <= value < float("inf")) or (value == 0 and not zero):  # also refuses NaN
        return None
    return value
