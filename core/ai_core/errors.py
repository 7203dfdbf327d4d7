"""The one exception type users see for bad configuration."""


class ConfigurationError(ValueError):
    """Raised at start-up when an option, connection string or sampling ratio is unusable.

    A subclass of ``ValueError`` so code written for the official exporter (which raises
    ``ValueError``) keeps working. The message always names the option and the problem, and
    never contains the instrumentation key.
    """
