//! [`DeviceControl`] for the real device: a [`DeviceDir`] and the
//! [`RunningDevice`] booted from it.

use std::sync::Mutex;

use sigil_endpoint::{
    BootStep, DeviceDir, DeviceStatus, ProvisioningStatus, RunOptions, RunningDevice,
};

use crate::DeviceControl;

/// Makes the [`RunOptions`] of each boot (events, audio, status file…).
pub type OptionsFactory = Box<dyn Fn() -> RunOptions + Send + Sync>;
/// Sees each boot step as it ends.
pub type StepObserver = Box<dyn Fn(&BootStep) + Send + Sync>;

/// The device as the web interface drives it: boots [`DeviceDir`] into a
/// [`RunningDevice`], and for a restart shuts it down and boots again with
/// what is on disk. A boot that fails leaves the device stopped, with the
/// failure in its status, and the web interface up to fix it.
pub struct EndpointDevice {
    dir: DeviceDir,
    options: OptionsFactory,
    observer: Option<StepObserver>,
    running: Mutex<Option<RunningDevice>>,
    failed: Mutex<Option<DeviceStatus>>,
}

impl std::fmt::Debug for EndpointDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EndpointDevice")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl EndpointDevice {
    /// The device in `dir`, not booted yet; each boot takes its options from `options`.
    pub fn new(dir: DeviceDir, options: OptionsFactory) -> EndpointDevice {
        EndpointDevice {
            dir,
            options,
            observer: None,
            running: Mutex::new(None),
            failed: Mutex::new(None),
        }
    }

    /// Reports every boot step (the first boot's and each restart's) to `observer`.
    pub fn with_observer(mut self, observer: StepObserver) -> EndpointDevice {
        self.observer = Some(observer);
        self
    }

    /// Boots the device. `Ok` with the ready step's detail, `Err` with the failure.
    pub fn boot(&self) -> Result<String, String> {
        let mut running = lock(&self.running);
        self.boot_locked(&mut running)
    }

    fn boot_locked(&self, running: &mut Option<RunningDevice>) -> Result<String, String> {
        let observer = &self.observer;
        let mut seen = |step: &BootStep| {
            if let Some(o) = observer {
                o(step);
            }
        };
        match self.dir.boot((self.options)(), &mut seen) {
            Ok(device) => {
                let detail = device
                    .status()
                    .boot
                    .last()
                    .map(|s| s.detail.clone())
                    .unwrap_or_else(|| "ready".into());
                *running = Some(device);
                *lock(&self.failed) = None;
                Ok(detail)
            }
            Err(failure) => {
                let why = failure.to_string();
                *lock(&self.failed) = Some(*failure.status);
                Err(why)
            }
        }
    }

    /// Runs `work` with the running device (place a call, send DTMF…);
    /// `None` when the SIP stack is not running. Status requests of the web
    /// interface wait while `work` runs.
    pub fn with_running<T>(&self, work: impl FnOnce(&RunningDevice) -> T) -> Option<T> {
        lock(&self.running).as_ref().map(work)
    }

    /// Whether the SIP stack is running.
    pub fn is_running(&self) -> bool {
        lock(&self.running).is_some()
    }

    /// Stops the SIP stack (un-REGISTER); the last status.
    pub fn stop(&self) -> Option<DeviceStatus> {
        lock(&self.running).take().map(RunningDevice::shutdown)
    }
}

impl DeviceControl for EndpointDevice {
    fn status(&self) -> DeviceStatus {
        if let Some(device) = lock(&self.running).as_ref() {
            return device.status();
        }
        lock(&self.failed)
            .clone()
            .unwrap_or_else(|| self.dir.offline_status())
    }

    fn restart(&self) -> Result<String, String> {
        let mut running = lock(&self.running);
        if let Some(device) = running.take() {
            device.shutdown();
        }
        self.boot_locked(&mut running)
    }

    fn provision(&self) -> ProvisioningStatus {
        let prepared = self.dir.prepare(&mut |_| {});
        let status = prepared.status.provisioning;
        if status.result == "applied" {
            if let Err(e) = self.restart() {
                log::warn!("after provisioning, the SIP stack did not come back: {e}");
            }
        }
        status
    }

    fn factory_reset(&self) -> Result<Vec<String>, String> {
        let mut running = lock(&self.running);
        if let Some(device) = running.take() {
            device.shutdown();
        }
        let report = self.dir.factory_reset().map_err(|e| e.to_string())?;
        *lock(&self.failed) = None;
        Ok(report
            .removed
            .iter()
            .map(|p| p.display().to_string())
            .collect())
    }
}
