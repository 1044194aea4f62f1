"""The HTTP plumbing: the server and its protocol, limits, compression, HEAD, assets, off-loop work and searches."""
