"""ivr.prompts"""
