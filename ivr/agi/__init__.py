"""ivr.agi"""
