"""ivr.web"""
