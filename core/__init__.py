"""The vocabulary every layer of FaceFleet shares: job kinds, queues, message headers,
payloads, result models and error codes.

Standard library and pydantic only; it imports nothing of the project, so the API, the
workers, the adapters and the CLI can all depend on it without depending on each other.
"""
