"""Built-in drivers.  Each backend is a package whose ``__init__`` is the pluggy
plugin (a ``DriverSpec``, no client import) and whose ``driver`` module holds
the class.  ``noop`` serves all four amphora types without a cloud."""
