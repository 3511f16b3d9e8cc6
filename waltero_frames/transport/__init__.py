"""Transport layer: session, login and tokens, retries, rate limit and the response cache.

May import ``errors`` only; knows nothing of frames or of the API's endpoints.
"""
