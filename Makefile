# The two commands of the README:
#   make run    build crx and the example pipeline, then `crx repro validate_model`
#   make test   build and run every test (unit + end-to-end + the differential suite against real DVC)
SWIFT ?= swift
CRX = .build/release/crx

.PHONY: run test deps build clean

deps:
	@scripts/ensure-deps.sh

build: deps
	$(SWIFT) build -c release --product crx
	$(SWIFT) build -c release --product creditrisk

run: build
	$(CRX) repro validate_model
	@echo
	@echo "Reports: reports/ (lineage, metrics, validation); model: models/; what was built: pipeline.lock"
	@echo "Try: $(CRX) status · $(CRX) dag · $(CRX) repro --dry-run"

test: deps
	$(SWIFT) build
	$(SWIFT) test
	python3 Tests/differential/dvc_differential.py --crx .build/debug/crx

clean:
	rm -rf .build
