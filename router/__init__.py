"""The router: unified depth model, optimal split, cross-margin core, execution, and the wiring."""
