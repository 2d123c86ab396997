"""Language-model plumbing shared by the coach and chat: links, limits, fallback, parsing.

Nothing here knows about practice data; callers (coach, chat) bring prompts and answers.
"""
