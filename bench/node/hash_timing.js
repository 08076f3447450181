// The comparison for `portcullis hash-timing`: the same Argon2id parameters
// (m=19456 KiB, t=2, p=1, or PORTCULLIS_ARGON2_*) with @node-rs/argon2,
// timed the same way (the median of 21 after two to warm up), in ms.
const { hashSync, Algorithm } = require("@node-rs/argon2");

const options = {
  algorithm: Algorithm.Argon2id,
  memoryCost: Number(process.env.PORTCULLIS_ARGON2_MEMORY_KIB || 19456),
  timeCost: Number(process.env.PORTCULLIS_ARGON2_ITERATIONS || 2),
  parallelism: Number(process.env.PORTCULLIS_ARGON2_PARALLELISM || 1),
};
const times = [];
for (let i = 0; i < 23; i++) {
  const started = process.hrtime.bigint();
  hashSync("portcullis-benchmark-password", options);
  times.push(Number(process.hrtime.bigint() - started) / 1e6);
}
const measured = times.slice(2).sort((a, b) => a - b);
console.log(measured[Math.floor(measured.length / 2)].toFixed(3));
