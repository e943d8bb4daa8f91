import { describe, expect, it } from "vitest";
import { keyCookie } from "./auth";

describe("keyCookie", () => {
  it("sets msgtrace_key for the whole site, SameSite=Strict", () => {
    expect(keyCookie("s3cret-key_1")).toBe("msgtrace_key=s3cret-key_1; path=/; SameSite=Strict");
  });
  it("percent-encodes characters cookies cannot hold", () => {
    expect(keyCookie("a;b c")).toBe("msgtrace_key=a%3Bb%20c; path=/; SameSite=Strict");
  });
});
