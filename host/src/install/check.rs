//! The template half of an inventory check: a profile's answer-file
//! template must render (`awl check`, and every profile edit).

use std::sync::Arc;

use crate::inventory::model::Profile;
use crate::render::Renderer;

/// A check that renders each profile's own template against a sample
/// machine: a syntax error, an unknown template or a runaway loop is
/// reported with the template's name and line.
pub fn template_check(renderer: Arc<Renderer>) -> impl Fn(&Profile) -> Result<(), String> {
    move |profile: &Profile| match profile.template.as_deref() {
        Some(template) => renderer
            .check_answer_template(template)
            .map_err(|e| e.to_string()),
        None => Ok(()),
    }
}
