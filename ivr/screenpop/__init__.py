"""The screen-pop pipeline, in the order an event travels.

AMI or built-in queue events -> one pop event -> dispatcher -> agent sockets.
"""
