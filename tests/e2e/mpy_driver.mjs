// Runs a program in real MicroPython (WebAssembly build) for emlc's tests.
// stdin: JSON {"files": {"name": "text", ...}, "program": "python source", "heapsize": bytes}
// The files are written to MicroPython's current folder, then the program runs;
// its output goes to stdout. A Python exception exits with status 1, traceback on stderr.
import { loadMicroPython } from "@micropython/micropython-webassembly-pyscript";

const chunks = [];
for await (const chunk of process.stdin) chunks.push(chunk);
const job = JSON.parse(Buffer.concat(chunks).toString("utf8"));
const mp = await loadMicroPython({
  heapsize: job.heapsize ?? 64 * 1024 * 1024,
  stdout: (line) => process.stdout.write(line + "\n"),
  stderr: (line) => process.stderr.write(line + "\n"),
});
for (const [name, text] of Object.entries(job.files ?? {})) mp.FS.writeFile(name, text);
try {
  mp.runPython(job.program);
} catch (err) {
  process.stderr.write(String(err.message ?? err) + "\n");
  process.exitCode = 1;
}
