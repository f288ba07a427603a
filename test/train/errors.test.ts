import { describe, it, expect } from "vitest";
import { renderTrainError, trainError } from "../../train/errors.ts";

describe("renderTrainError", () => {
  it("renders one line with the tag", () => {
    expect(renderTrainError(trainError("DataError", "bad file\n  at x.txt"))).toBe("DataError: bad file at x.txt");
  });
});
