"""The Textual practice room: subscribes to engine events and renders them."""
