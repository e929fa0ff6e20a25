"""cli: the ``kubesvc`` command (``up``, ``server``, ``agent``, ``token``, ``exec``)."""
