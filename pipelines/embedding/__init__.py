"""Face embedders. ``dlib-resnet-v1`` is the default; deepface models are optional extras."""

from pipelines.embedding.base import Chips, DescriptorBackend, Descriptors, Embedder

__all__ = ["Chips", "DescriptorBackend", "Descriptors", "Embedder"]
