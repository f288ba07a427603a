import { describe, it, expect } from "vitest";
import { renderRunError, renderTrainError, trainError } from "../../train/errors.ts";

describe("renderTrainError", () => {
  it("renders one line with the tag", () => {
    expect(renderTrainError(trainError("DataError", "bad file\n  at x.txt"))).toBe("DataError: bad file at x.txt");
  });
});

describe("renderRunError", () => {
  it("renders a TrainError as renderTrainError does, and a RankfuseError by its own tag", () => {
    expect(renderRunError(trainError("CheckpointError", "torn\n write"))).toBe("CheckpointError: torn write");
    expect(renderRunError({ tag: "ConfigError", message: "rank 0" })).toBe("ConfigError: rank 0");
  });
});
