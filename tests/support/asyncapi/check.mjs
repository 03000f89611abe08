// Parse each AsyncAPI document named on the command line with the official parser; print its diagnostics as JSON
// lines and exit 1 when any is an error (severity 0).
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
let failed = false;
for (const path of process.argv.slice(2)) {
  const { document, diagnostics } = await parser.parse(readFileSync(path, "utf8"));
  for (const d of diagnostics) {
    console.log(JSON.stringify({ path, severity: d.severity, code: d.code, message: d.message, at: d.path }));
  }
  if (document === undefined || diagnostics.some((d) => d.severity === 0)) failed = true;
}
process.exit(failed ? 1 : 0);
