"""Model families: plain `nn.Module` backbones, one module each, registered in millrace.models.catalogue."""
