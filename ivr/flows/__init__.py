"""ivr.flows"""
