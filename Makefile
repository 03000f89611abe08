# Conveniences over ./dev, which does the work (and installs what it needs).
.PHONY: run test demo
run:
	./dev run
test:
	./dev test
demo:
	./dev demo
