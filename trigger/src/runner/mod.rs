//! Running plugins: finding them (`plugins`), running one process under
//! supervision (`process`, `output`), deciding what is due for one alert
//! directory (`job`), and the worker threads (`pool`).

pub mod job;
pub mod output;
pub mod plugins;
pub mod pool;
pub mod process;
