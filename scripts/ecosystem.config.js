// pm2 process file for the SN29 validator daemon (operators of the reference subnet run it under pm2).
//
//   pm2 start scripts/ecosystem.config.js          // from the repository root
//   pm2 logs sn29-validator                        // one line per event (set SN29_VALIDATOR_LOGGING_JSON=1 for JSON)
//   pm2 sendSignal SIGHUP sn29-validator           // re-read the config file at the next round boundary
//   pm2 stop sn29-validator                        // SIGINT: stops at the next safe point
//   pm2 save && pm2 startup                        // start again after a reboot
//
// Settings live in validator.yaml next to this repository's root (see validator/README.md), or in
// SN29_VALIDATOR_* variables under `env`. pm2 writes the logs to files, so no progress bars are drawn.
const path = require("path");

const root = path.resolve(__dirname, "..");

module.exports = {
  apps: [
    {
      name: "sn29-validator",
      cwd: root,
      script: path.join(root, ".venv", "bin", "python"),
      args: ["-m", "validator", "run", "--config", path.join(root, "validator.yaml")],
      interpreter: "none",
      autorestart: true,
      restart_delay: 10000,
      kill_timeout: 60000, // ms between the stop signal and SIGKILL: the daemon needs a few seconds
      env: {
        PYTHONUNBUFFERED: "1",
      },
    },
  ],
};
