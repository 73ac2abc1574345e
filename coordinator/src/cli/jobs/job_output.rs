//! `convoy job output`: the stored output in pages, the dropped middle of a truncated one
//! marked, and with `--follow` more pages until the command ends.

use super::*;

/// `job output`: the stored output in pages (any size fits), the dropped middle of a
/// truncated one marked where it was, and with `follow` more pages until the command ends.
pub(super) async fn output(
    client: &mut convoy_proto::v1::admin_client::AdminClient<tonic::transport::Channel>,
    connect: &ConnectArgs,
    format: OutputFormat,
    job_id: String,
    host: String,
    follow: bool,
) -> anyhow::Result<()> {
    let mut offset = 0u64;
    let mut marked = false;
    let mut all = Vec::new();
    loop {
        let page = client
            .get_command_output(GetCommandOutputRequest {
                job_id: job_id.clone(),
                host: host.clone(),
                offset,
                max_bytes: 0,
            })
            .await
            .map_err(|status| rpc_error(&connect.addr, status))?
            .into_inner();
        let mut data = page.data.as_slice();
        // The gap between head and tail, once, where it falls.
        if page.dropped_bytes > 0 && !marked && page.dropped_at < page.next_offset {
            let split = usize::try_from(page.dropped_at.saturating_sub(page.offset))
                .unwrap_or(data.len())
                .min(data.len());
            let marker = format!(
                "\n[convoy: {} bytes of output dropped here; the first and last parts are kept]\n",
                page.dropped_bytes
            );
            emit(format, &mut all, &data[..split]);
            emit(format, &mut all, marker.as_bytes());
            data = &data[split..];
            marked = true;
        }
        emit(format, &mut all, data);
        offset = page.next_offset;
        if page.more {
            continue;
        }
        if follow && page.running {
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            continue;
        }
        if format == OutputFormat::Json {
            out!(
                "{}",
                serde_json::json!({
                    "host": page.host,
                    "output": String::from_utf8_lossy(&all),
                    "output_bytes": page.output_bytes,
                    "output_stored_bytes": page.stored_bytes,
                    "output_truncated": page.output_truncated,
                    "output_dropped_bytes": page.dropped_bytes,
                })
            );
        } else if page.output_truncated {
            eprintln!(
                "output truncated: {} of {} bytes stored (the first and last parts)",
                page.stored_bytes, page.output_bytes
            );
        }
        return Ok(());
    }
}

/// Table output goes out as it comes; JSON is gathered for one document.
fn emit(format: OutputFormat, all: &mut Vec<u8>, bytes: &[u8]) {
    if bytes.is_empty() {
        return;
    }
    match format {
        OutputFormat::Json => all.extend_from_slice(bytes),
        OutputFormat::Table => crate::cli::write_raw(bytes),
    }
}
