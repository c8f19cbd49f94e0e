"""The voice skill: runs a voice job (asr → conversation turn → tts)."""
