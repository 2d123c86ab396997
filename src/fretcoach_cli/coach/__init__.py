"""The coach: LLM providers with fallbacks, the offline coach, recommendations and chat."""
