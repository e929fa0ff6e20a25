"""Kubernetes protobuf request bodies: :mod:`.decode` (run time), :mod:`.schema` (generated
field tables), :mod:`.generate` (the developer tool that writes :mod:`.schema`)."""
