"""ivr.ami"""
