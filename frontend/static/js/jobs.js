// Run an engine job and wait for it: POST /api/jobs/, follow /ws/jobs/ (the fast path) and poll the
// job as a fallback for a missed event. Resolves with the finished job (outputs with URLs, info);
// rejects with the job's error (or the API's refusal) if it fails or is cancelled.
import { api, socket } from "./api.js";

let jobsSocket = null;
const waiting = new Map(); // job id → {check, onProgress}

function onEvent(msg) {
  if (msg.type !== "job") return;
  const entry = waiting.get(msg.id);
  if (!entry) return;
  if (msg.status === "running") entry.onProgress?.(msg.progress);
  if (["succeeded", "failed", "cancelled"].includes(msg.status)) entry.check();
}

export async function runJob(body, { onProgress, pollMs = 1500 } = {}) {
  jobsSocket ??= socket("/ws/jobs/", onEvent);
  const job = await api("/api/jobs/", { method: "POST", body });
  return new Promise((resolve, reject) => {
    let timer = null;
    const finish = (fn, value) => { clearTimeout(timer); waiting.delete(job.id); fn(value); };
    const check = async () => {
      const j = await api(`/api/jobs/${job.id}/`).catch(() => null);
      if (!waiting.has(job.id)) return;
      if (j?.status === "succeeded") finish(resolve, j);
      else if (j && (j.status === "failed" || j.status === "cancelled")) finish(reject, new Error(j.error || `The job ${j.status}.`));
      else timer = setTimeout(check, pollMs);
    };
    waiting.set(job.id, { check, onProgress });
    timer = setTimeout(check, pollMs);
  });
}

export const outputUrl = (job, name) => job.outputs.find((o) => o.name === name)?.url;
