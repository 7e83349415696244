"""ivr.testing"""
