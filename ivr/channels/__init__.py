"""The voice channels: the Channel seam and its implementations.

FastAGI, classic AGI, the browser softphone and the simulator; text channels never come here.
"""
