"""Audio: sources, resampling, pitch backends, note segmentation and the engine loop."""
