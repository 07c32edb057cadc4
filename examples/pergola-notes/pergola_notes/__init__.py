"""Notes: a Pergola addon. The registry loads it from `manifest.py`; importing this
package registers nothing."""
